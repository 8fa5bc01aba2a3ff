"""Ensembles: uncertainty, lever effects, sensitivity and stability of every forecast."""
