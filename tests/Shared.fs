module Hybrid.Tests.Shared
