"""schemathesis hooks for infra/test.sh (loaded through tests/fuzz/schemathesis.toml)."""

import schemathesis


@schemathesis.hook
def filter_body(ctx, body):
    """Drops raw bodies that are not UTF-8.

    `cargo lambda watch`, the local stand-in for API Gateway, cannot put such a body into the
    event of a `application/json` request and answers 500 itself, without calling the function.
    Every other non-JSON body still goes through (the functions answer 422 `invalid_body`).
    """
    if isinstance(body, (bytes, bytearray)):
        try:
            bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            return False
    return True
