"""The ``monitor`` program: captured traffic against the training baseline."""
