"""One module per lab experiment, each defining ``EXPERIMENT`` (see :mod:`torchdoctor.lab`)."""
