module Hybrid.Tests.SafetensorsTests
