"""What ``proposals`` and ``tracker`` share without importing each other."""
