"""Chapter 6: where temporal kernels belong (MCx/rMCx, S3D's bottom- and top-heavy)."""
