"""SageMaker bring-your-own-container programs for XGBoost: ``train`` and ``serve``."""

__version__ = "0.1.0"
