"""The machine's floor for a request: a minimal blocking TCP echo server's CPU time per round
trip with one client (100-byte messages, TCP_NODELAY), as scripts/bench.sh's echo-floor row.
On a VM every sleep and wake-up of the server thread is expensive; a broker answering one
request at a time cannot cost less than this. Prints one JSON line.

usage: echo_floor.py ROUND_TRIPS"""

import json
import os
import socket
import sys
import threading
import time


def serve(listener, result):
    connection, _ = listener.accept()
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    echoes = 0
    before = time.thread_time()
    while True:
        data = connection.recv(4096)
        if not data:
            break
        connection.sendall(data)
        echoes += 1
    result["cpu_s"] = time.thread_time() - before
    result["echoes"] = echoes


def main():
    round_trips = int(sys.argv[1])
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    result = {}
    server = threading.Thread(target=serve, args=(listener, result))
    server.start()
    if os.fork() == 0:  # the client in a process of its own, as a real client is
        client = socket.create_connection(listener.getsockname())
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(round_trips):
            client.sendall(b"x" * 100)
            client.recv(4096)
        client.close()
        os._exit(0)
    server.join()
    os.wait()
    print(json.dumps({"workload": "echo-floor", "round_trips": result["echoes"],
                      "cpu_us_per_echo": round(result["cpu_s"] * 1e6 / result["echoes"], 1)}))


if __name__ == "__main__":
    main()
