"""Media, neutral ground: image checks and fitting, video probing, synthetic media and the SSRF-guarded fetch.

Publishing prepares a client's media with it; the sandbox checks what it is given with the same code.
Nothing here imports publishing or the sandbox.
"""
