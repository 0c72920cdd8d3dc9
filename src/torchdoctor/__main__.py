"""``python -m torchdoctor``: the command line (``torchrun ... -m torchdoctor train CONFIG``)."""

from torchdoctor.cli import main

if __name__ == "__main__":
    main()
