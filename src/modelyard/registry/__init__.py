"""The model registry: named models, their versions (files in the artifact store), aliases."""
