module Hybrid.Tests.GmmReferenceTests
