"""Chapter 9: temporal receptive fields, latency, temporal lenses, streaming."""
