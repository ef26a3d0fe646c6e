"""Chapter 11: SlowFast's pathways, X3D's expansion, MoViNet streaming, published costs."""
