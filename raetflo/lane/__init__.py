"""RAET lanes: messages between yards (processes) over Unix datagram sockets."""
