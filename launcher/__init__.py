"""Helpers of ``sagemaker_launch.py``: AWS flows (``remote``) and Docker flows (``local``)."""
