module Hybrid.Tests.CkaReferenceTests
