"""Script mode: hand the job to the sagemaker-training toolkit when the user brings a script.

The SageMaker Python SDK sets the hyperparameters ``sagemaker_program`` (the script) and
``sagemaker_submit_directory`` (where it lives) when an estimator is given an
``entry_point``. The toolkit then installs the code, exports the ``SM_*`` variables, runs
the script with the hyperparameters as arguments and reports failures itself.
"""

from __future__ import annotations

import os

from .paths import Layout


def run(layout: Layout) -> int:
    """Run the user's script through the toolkit's trainer; its exit status."""
    # SageMaker creates these; the toolkit assumes them (it cannot even report a failure
    # without output/), so they are made here for local runs.
    for folder in (layout.model_dir, layout.output_data_dir):
        folder.mkdir(parents=True, exist_ok=True)
    # The toolkit reads SAGEMAKER_BASE_DIR once, when it is first imported.
    os.environ["SAGEMAKER_BASE_DIR"] = str(layout.base)
    from sagemaker_training import trainer

    try:
        trainer.train()
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else 1
    return 0
