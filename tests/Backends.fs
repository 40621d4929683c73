module Hybrid.Tests.Backends
