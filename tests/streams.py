"""Reading a FIFO in a thread, for the tests of outputs written into streams."""

import os
import threading


def read_in_thread(path):
    """Read the FIFO ``path`` in a thread; the returned ``finish()`` gives the bytes.

    The test holds a writer of its own until ``finish``, so the reader sees no end
    before the command has written, and is never left waiting for ever (by a command
    that replaced the FIFO, say).
    """
    reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    held = os.open(path, os.O_WRONLY)
    os.set_blocking(reader, True)
    chunks = []

    def read():
        with open(reader, "rb") as f:
            chunks.append(f.read())

    thread = threading.Thread(target=read)
    thread.start()

    def finish():
        os.close(held)
        thread.join()
        return chunks[0]

    return finish
