"""Chapter 3: C3D's temporal depth, what it looks at, its features."""
