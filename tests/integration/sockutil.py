"""What the raw-socket dialogues of smtp_util (Dialog) and pop3_util (Raw)
share: seeing the server close the connection, closing ours, and waiting
for a condition with a deadline."""
import socket
import ssl
import time


class RawSocket:
    """A dialogue over self.sock with unread bytes kept in self.buf."""

    def closed(self, timeout=5):
        """True when the server closes the connection (EOF, after any
        replies, which stay in self.buf) within timeout."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (ConnectionResetError, ssl.SSLError):
            return True
        except socket.timeout:
            return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def wait_for(pred, timeout=10, step=0.05):
    """True as soon as pred() is; after timeout, pred()'s last answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()
