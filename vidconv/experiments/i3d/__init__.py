"""Chapter 4: inflation, its initialisation, two streams."""
