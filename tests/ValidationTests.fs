module Hybrid.Tests.ValidationTests
