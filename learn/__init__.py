"""binn stage: learn — the learnt biomechanics prior (MotionVAE2D) and R_VAE.

Public API: :func:`learn.gradients.displacement_gradient` (the one gradient operator),
:func:`learn.score.load_vae`, :func:`learn.score.r_vae`; training in :mod:`learn.train`.
"""
