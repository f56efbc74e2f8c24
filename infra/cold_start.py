"""Cold start of one function binary: from process spawn to its first answered request.

A minimal Lambda Runtime API (the three calls a runtime makes: next invocation, response, error)
serves one API Gateway HTTP API (payload 2.0) event to a freshly spawned bootstrap, and records
when the process asks for work (its init is done) and when it posts the response. Each run is a
new process, as on a cold Lambda instance. Prints the figures; asserts only that every answer is
the expected status, never a time.

Usage: python3 cold_start.py BINARY METHOD PATH CUSTOMER_ID API_KEY [RUNS]
(infra/cold-start.sh sets it up: DynamoDB Local, a seeded table, the release build.)
"""

import http.server
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid

API = "/2018-06-01/runtime"


def event(method, path, customer_id, api_key):
    raw_path = path.replace("{customer_id}", customer_id)
    route_key = f"{method} {path}"
    payload = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": "",
        "headers": {
            "authorization": f"Bearer {api_key}",
            "host": "cold-start.execute-api.us-east-1.amazonaws.com",
            "user-agent": "cold-start-bench",
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "coldstart",
            "domainName": "cold-start.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "cold-start",
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "cold-start-bench",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route_key,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": False,
    }
    if "{customer_id}" in path:
        payload["pathParameters"] = {"customer_id": customer_id}
    return payload


class Run:
    """One invocation: the event to hand out and the moments it was asked for and answered."""

    def __init__(self, payload):
        self.request_id = str(uuid.uuid4())
        self.payload = json.dumps(payload).encode()
        self.handed_out = False
        self.asked_at = None
        self.answered_at = None
        self.answer = None
        self.error = None
        self.done = threading.Event()


class RuntimeApi(http.server.ThreadingHTTPServer):
    """One per run: a killed process's last request, still unread, can never reach the next run."""

    daemon_threads = True

    def __init__(self, run):
        super().__init__(("127.0.0.1", 0), Handler)
        self.run = run

    def handle_error(self, request, client_address):
        pass  # the killed process's connection resets; nothing to report


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        run = self.server.run
        if self.path != f"{API}/invocation/next":
            return self.reply(404)
        if run.handed_out:
            # The process asks for its second invocation: it is measured and will be killed.
            run.done.wait()
            time.sleep(60)
            return
        run.asked_at = time.perf_counter()
        run.handed_out = True
        self.reply(200, run.payload, [
            ("Content-Type", "application/json"),
            ("Lambda-Runtime-Aws-Request-Id", run.request_id),
            ("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30_000)),
            ("Lambda-Runtime-Invoked-Function-Arn",
             "arn:aws:lambda:us-east-1:123456789012:function:cold-start"),
            ("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0"),
        ])

    def do_POST(self):
        run = self.server.run
        body = self.body()
        if self.path == f"{API}/invocation/{run.request_id}/response":
            run.answered_at = time.perf_counter()
            run.answer = body
        else:  # .../error or /init/error
            run.error = (self.path, body)
        self.reply(202, b'{"status":"OK"}', [("Content-Type", "application/json")])
        run.done.set()


def measure(binary, payload, env):
    run = Run(payload)
    server = RuntimeApi(run)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_address[1]}")
    spawned = time.perf_counter()
    process = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    answered = run.done.wait(30)
    process.kill()
    stderr = process.communicate()[1]
    server.shutdown()
    server.server_close()
    if not answered:
        raise SystemExit(f"no answer within 30 s\n{stderr.decode()}")
    if run.error:
        raise SystemExit(f"the function reported an error: {run.error!r}\n{stderr.decode()}")
    answer = json.loads(run.answer)
    if answer.get("statusCode") != 200:
        raise SystemExit(f"expected status 200, got {answer!r}\n{stderr.decode()}")
    return (run.asked_at - spawned, run.answered_at - run.asked_at, run.answered_at - spawned)


def main():
    binary, method, path, customer_id, api_key = sys.argv[1:6]
    runs = int(sys.argv[6]) if len(sys.argv) > 6 else 10
    env = dict(os.environ,
               AWS_LAMBDA_FUNCTION_NAME="cold-start",
               AWS_LAMBDA_FUNCTION_MEMORY_SIZE="256",
               AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
               AWS_LAMBDA_LOG_STREAM_NAME="cold-start",
               AWS_LAMBDA_LOG_GROUP_NAME="/aws/lambda/cold-start")
    payload = event(method, path, customer_id, api_key)
    # One unmeasured run first: the binary's pages into the page cache, as on a warm Lambda host.
    measure(binary, payload, env)
    results = [measure(binary, payload, env) for _ in range(runs)]
    ms = lambda values: [round(v * 1000, 1) for v in values]
    init, first, total = (ms(column) for column in zip(*results))
    print(f"{os.path.basename(binary)}: {runs} cold starts, {os.path.getsize(binary)} bytes")
    for name, values in [("init (spawn to first /next)", init),
                         ("first request (/next to response)", first),
                         ("spawn to first response", total)]:
        print(f"  {name:36s} median {statistics.median(values):7.1f} ms"
              f"  min {min(values):7.1f}  max {max(values):7.1f}")
    print(f"  all spawn-to-response times (ms): {total}")


if __name__ == "__main__":
    main()
