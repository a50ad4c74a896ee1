"""The subcommands on the local Docker engine: the image's own contract, no AWS.

``training`` lays out one ``/opt/ml`` per host and runs ``IMAGE train`` on a private network;
``serving`` runs ``IMAGE serve`` on 127.0.0.1; ``batch`` cuts files as a transform job does;
``tuning`` runs trials one after another; ``docker`` holds what they share.
"""
