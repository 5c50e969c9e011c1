"""A model defined in a script's ``__main__`` is stored by value and loads in another process."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import superlite

SCRIPT = textwrap.dedent(
    """
    import sys
    import superlite
    from superlite import ObjectModel

    OFFSET = 100

    class Scaler:
        def __init__(self, factor):
            self.factor = factor

        def __call__(self, x):
            return helper(x) * self.factor

    def helper(x):
        return x + OFFSET

    with superlite.connect(sys.argv[1]) as db:
        db.apply(ObjectModel("scaler", object=Scaler(2)))
        db.apply(ObjectModel("adder", object=lambda x: helper(x) - 1))
    """
)


def test_main_defined_model_loads_in_a_fresh_process(db_uri, tmp_path):
    script = tmp_path / "define_models.py"
    script.write_text(SCRIPT)
    subprocess.run([sys.executable, str(script), db_uri], check=True, timeout=120)
    with superlite.connect(db_uri) as db:
        assert db.load("model", "scaler").predict(1) == 202
        assert db.load("model", "adder").predict(1) == 100
