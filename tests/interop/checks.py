"""What the interop scripts share: reporting checks the way tests/interop/run counts them,
and free loopback ports for the peers they start."""

import socket


class Checks:
    def __init__(self, label):
        self.label = label
        self.passed = self.failed = 0

    def report(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"ok   {name}")
        else:
            self.failed += 1
            print(f"FAIL {name}")
            if detail:
                print("     " + str(detail)[-800:].replace("\n", "\n     "))

    def summary(self):
        """Prints `label: N passed, M failed` (the line run reads) and returns the exit code."""
        print(f"{self.label}: {self.passed} passed, {self.failed} failed")
        return 1 if self.failed else 0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
