"""Chapters 1-2: time as the only signal, real footage, sampling, the input pipeline."""
