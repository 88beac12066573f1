#!/usr/bin/env python3
"""The device check's inference server: an OpenAI-compatible streaming `/v1/completions` over a
Llama-style model built from a config with random weights (nothing is downloaded), batched so
that the GPU is kept busy.

It needs only what the GPU machine's image has: PyTorch, transformers and the standard library.
The HTTP side is the standard library's threading server (one thread a connection), because
nothing else is there; the model side is transformers' `LlamaForCausalLM` and `generate`.

- Requests are batched dynamically: the engine takes every request that is waiting when it is
  free (up to --max-batch), left-pads them and decodes them together; requests that arrive
  meanwhile wait for the next batch (static batching, as simple servers do).
- Every request produces exactly `max_tokens` tokens: the random model has no end of sequence
  (`ignore_eos` is accepted and is what happens anyway), so output lengths are fixed.
- Prompts are tokenized by words (one token a whitespace-separated word, hashed into the
  vocabulary), so lem's synthetic prompts of N words are N tokens.
- `stream: true` sends one SSE event a token (tokens that are ready together share a write),
  then, with `stream_options.include_usage`, a last chunk with `usage` and no choices, then
  `data: [DONE]`. `GET /health` answers 200 once the model is on the device; `GET /stats` gives
  the batches run so far.
"""
import argparse
import json
import queue
import signal
import sys
import threading
import time
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import torch
from transformers import LlamaConfig, LlamaForCausalLM
from transformers.generation.streamers import BaseStreamer

# Llama shapes. `3b` is Llama 3.2 3B's (with a 32 k vocabulary), `1b` Llama 3.2 1B's; `tiny`
# is for a CPU, where the check runs in tests.
PRESETS = {
    "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, vocab_size=1024),
    "1b": dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32, num_key_value_heads=8, vocab_size=32000),
    "3b": dict(hidden_size=3072, intermediate_size=8192, num_hidden_layers=28, num_attention_heads=24, num_key_value_heads=8, vocab_size=32000),
}

DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--model", choices=sorted(PRESETS), default="3b", help="the model's shape")
    p.add_argument("--device", default="auto", help="cuda, cuda:N, cpu, or auto (cuda when there is one)")
    p.add_argument("--dtype", choices=sorted(DTYPES), help="default: bfloat16 on a GPU, float32 on the CPU")
    p.add_argument("--max-batch", type=int, default=256, help="requests decoded together at most")
    p.add_argument("--max-context", type=int, default=4096, help="prompt + output tokens at most")
    p.add_argument("--name", help="the served model name (default: random-llama-<model>)")
    return p.parse_args(argv)


def log(**fields):
    print(json.dumps({"t": round(time.time(), 3), **fields}), flush=True)


def build_model(args):
    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    dtype = DTYPES[args.dtype or ("float32" if device == "cpu" else "bfloat16")]
    config = LlamaConfig(**PRESETS[args.model], max_position_embeddings=args.max_context, bos_token_id=None, eos_token_id=None, pad_token_id=0)
    started = time.monotonic()
    torch.manual_seed(0)
    with torch.device(device):
        model = LlamaForCausalLM._from_config(config, dtype=dtype)
    model.eval()
    model.generation_config.eos_token_id = None
    model.generation_config.pad_token_id = 0
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    params = sum(p.numel() for p in model.parameters())
    log(event="model", model=args.model, device=device, dtype=str(dtype).removeprefix("torch."), parameters=params, init_s=round(time.monotonic() - started, 2))
    return model, config, device


class Request:
    """One completion: its prompt tokens, how many to make, and the queue its tokens go to."""

    def __init__(self, tokens, max_tokens):
        self.tokens = tokens
        self.max_tokens = max_tokens
        self.out = queue.Queue()  # token ids, then None (done) or an Exception
        self.sent = 0


class BatchStreamer(BaseStreamer):
    """generate() hands it the prompt, then each step's new tokens for the whole batch."""

    def __init__(self, batch):
        self.batch = batch
        self.prompt_seen = False

    def put(self, value):
        if not self.prompt_seen:
            self.prompt_seen = True
            return
        for req, token in zip(self.batch, value.reshape(-1).tolist()):
            if req.sent < req.max_tokens:
                req.sent += 1
                req.out.put(token)
                if req.sent == req.max_tokens:
                    req.out.put(None)

    def end(self):
        for req in self.batch:
            if req.sent < req.max_tokens:
                req.out.put(None)


class Engine:
    """Runs the batches on one thread: whatever is waiting when the last batch ends is the next."""

    def __init__(self, model, device, max_batch):
        self.model = model
        self.device = device
        self.max_batch = max_batch
        self.waiting = queue.Queue()
        self.stats = {"batches": 0, "requests": 0, "outputTokens": 0, "maxBatch": 0, "busyS": 0.0}
        self.thread = threading.Thread(target=self.loop, name="engine", daemon=True)

    def submit(self, req):
        self.waiting.put(req)

    def next_batch(self):
        batch = [self.waiting.get()]
        while len(batch) < self.max_batch:
            try:
                batch.append(self.waiting.get_nowait())
            except queue.Empty:
                break
        return batch

    def loop(self):
        while True:
            batch = self.next_batch()
            started = time.monotonic()
            try:
                self.run(batch)
            except Exception as error:  # a failed batch fails its requests, not the server
                log(event="batch-error", error=repr(error))
                for req in batch:
                    req.out.put(error)
            self.stats["batches"] += 1
            self.stats["requests"] += len(batch)
            self.stats["outputTokens"] += sum(r.sent for r in batch)
            self.stats["maxBatch"] = max(self.stats["maxBatch"], len(batch))
            self.stats["busyS"] += time.monotonic() - started

    def run(self, batch):
        width = max(len(r.tokens) for r in batch)
        ids = torch.zeros((len(batch), width), dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for i, req in enumerate(batch):  # left padding: every prompt ends where decoding starts
            ids[i, width - len(req.tokens):] = torch.tensor(req.tokens)
            mask[i, width - len(req.tokens):] = 1
        with torch.inference_mode():
            self.model.generate(
                input_ids=ids.to(self.device),
                attention_mask=mask.to(self.device),
                max_new_tokens=max(r.max_tokens for r in batch),
                do_sample=False,
                streamer=BatchStreamer(batch),
            )


def tokenize(text, vocab):
    return [zlib.crc32(word.encode()) % vocab for word in text.split()] or [0]


class BadRequest(Exception):
    pass


def parse_completion(body, vocab, max_context):
    """The request's prompt tokens, max_tokens, stream and include_usage; BadRequest when malformed."""
    try:
        req = json.loads(body)
    except ValueError as error:
        raise BadRequest(f"the body is not JSON: {error}")
    if not isinstance(req, dict):
        raise BadRequest("the body must be a JSON object")
    prompt = req.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise BadRequest("prompt must be a string")
    max_tokens = req.get("max_tokens", 16)
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise BadRequest("max_tokens must be a positive integer")
    tokens = tokenize(prompt, vocab)
    if len(tokens) + max_tokens > max_context:
        raise BadRequest(f"the prompt's {len(tokens)} tokens and max_tokens {max_tokens} exceed the context of {max_context}")
    include_usage = bool((req.get("stream_options") or {}).get("include_usage"))
    return tokens, max_tokens, bool(req.get("stream")), include_usage


def make_handler(engine, config, name, max_context):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive; streams use chunked transfer encoding

        def log_message(self, *args):
            pass

        def send_json(self, status, payload):
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path == "/health":
                self.send_json(200, {"status": "ok"})
            elif self.path == "/v1/models":
                self.send_json(200, {"object": "list", "data": [{"id": name, "object": "model", "owned_by": "lem-device-check"}]})
            elif self.path == "/stats":
                self.send_json(200, engine.stats)
            else:
                self.send_json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path != "/v1/completions":
                return self.send_json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
            try:
                tokens, max_tokens, stream, include_usage = parse_completion(body, config.vocab_size, max_context)
            except BadRequest as error:
                return self.send_json(400, {"error": {"message": str(error), "type": "invalid_request_error"}})
            req = Request(tokens, max_tokens)
            engine.submit(req)
            meta = {"id": f"cmpl-{uuid.uuid4().hex[:16]}", "object": "text_completion", "created": int(time.time()), "model": name}
            usage = lambda: {"prompt_tokens": len(tokens), "completion_tokens": req.sent, "total_tokens": len(tokens) + req.sent}
            if stream:
                self.stream(req, meta, usage if include_usage else None)
            else:
                text, error = self.collect(req)
                if error is not None:
                    return self.send_json(500, {"error": {"message": repr(error), "type": "server_error"}})
                self.send_json(200, {**meta, "choices": [{"index": 0, "text": text, "finish_reason": "length", "logprobs": None}], "usage": usage()})

        def collect(self, req):
            words = []
            while True:
                item = req.out.get()
                if item is None:
                    return "".join(words), None
                if isinstance(item, Exception):
                    return None, item
                words.append(f" w{item}")

        def stream(self, req, meta, usage):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            sent = 0
            while True:
                items = [req.out.get()]  # the next token, and every one ready after it: one write
                while items[-1] is not None and not isinstance(items[-1], Exception):
                    try:
                        items.append(req.out.get_nowait())
                    except queue.Empty:
                        break
                events = []
                for item in items:
                    if item is None or isinstance(item, Exception):
                        break
                    sent += 1
                    events.append(self.event(meta, f" w{item}", "length" if sent == req.max_tokens else None))
                last = items[-1]
                if last is None:
                    if sent < req.max_tokens:
                        events.append(self.event(meta, "", "length"))
                    if usage is not None:
                        events.append(b"data: " + json.dumps({**meta, "choices": [], "usage": usage()}).encode() + b"\n\n")
                    events.append(b"data: [DONE]\n\n")
                elif isinstance(last, Exception):
                    events.append(b"event: error\ndata: " + json.dumps({"error": {"message": repr(last)}}).encode() + b"\n\n")
                self.write_chunk(b"".join(events))
                if last is None or isinstance(last, Exception):
                    break
            self.wfile.write(b"0\r\n\r\n")

        @staticmethod
        def event(meta, text, finish_reason):
            return b"data: " + json.dumps({**meta, "choices": [{"index": 0, "text": text, "finish_reason": finish_reason}]}).encode() + b"\n\n"

        def write_chunk(self, data):
            if data:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    return Handler


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # the listen backlog: lem opens many connections at once


def main(argv):
    args = parse_args(argv)
    model, config, device = build_model(args)
    engine = Engine(model, device, args.max_batch)
    engine.thread.start()
    name = args.name or f"random-llama-{args.model}"
    server = Server((args.host, args.port), make_handler(engine, config, name, args.max_context))
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    log(event="ready", url=f"http://{args.host}:{server.server_address[1]}/v1", name=name)
    try:
        server.serve_forever()
    finally:
        log(event="stopped", **engine.stats)


if __name__ == "__main__":
    main(sys.argv[1:])
