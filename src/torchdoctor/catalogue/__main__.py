"""``python -m torchdoctor.catalogue``: print ``docs/symptoms.md`` (the symptom catalogue)."""

import sys

from torchdoctor.catalogue._docs import symptoms_markdown

sys.stdout.write(symptoms_markdown())
