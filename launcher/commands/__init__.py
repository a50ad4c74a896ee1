"""One module per subcommand: its flags (``arguments``), its SageMaker flow and its ``COMMAND``."""
