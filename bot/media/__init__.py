"""Media normalisation: bytes people post in, something the embedding API accepts out (or a typed error).

``sniff`` tells images from videos by their bytes, ``images`` prepares pictures (Pillow), ``video`` probes
and shrinks videos (PyAV), ``errors`` holds the failures. Import from the submodules: the package itself
stays empty so that code needing only the errors does not load FFmpeg.
"""
