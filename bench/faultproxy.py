#!/usr/bin/env python3
"""A TCP proxy that breaks connections on request, for the soak (bench/soak.sh); no migrator code.

    bench/faultproxy.py LISTEN_PORT TARGET_HOST TARGET_PORT

Signals choose the fault:
    SIGUSR1  cut: every open connection is reset (RST, as a dead peer or a failover looks), new ones are accepted
    SIGUSR2  stall: for STALL_SECONDS (environment, default 20) nothing is forwarded either way and new connections
             wait; connections stay open (a half-open path: no RST, no FIN), then traffic flows again
Each fault is logged on stderr with the number of connections it struck."""
import asyncio, os, signal, socket, struct, sys, time

listen_port, host, port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
stall_seconds = float(os.environ.get("STALL_SECONDS", "20"))
conns = set()
flowing = asyncio.Event()


def log(text):
    print(f"[{time.strftime('%H:%M:%S')}] faultproxy :{listen_port} {text}", file=sys.stderr, flush=True)


def reset(writer):
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:  # linger 0: close() sends RST
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()


async def pump(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            await flowing.wait()
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError, asyncio.CancelledError):
        pass
    finally:
        writer.transport.abort()


async def serve(creader, cwriter):
    await flowing.wait()
    try:
        sreader, swriter = await asyncio.open_connection(host, port)
    except OSError:
        cwriter.transport.abort()
        return
    pair = (cwriter, swriter)
    conns.add(pair)
    try:
        await asyncio.gather(pump(creader, swriter), pump(sreader, cwriter))
    finally:
        conns.discard(pair)


def cut():
    struck = list(conns)
    for c, s in struck:
        reset(c)
        reset(s)
    log(f"cut: {len(struck)} connections reset")


async def stall():
    log(f"stall: {len(conns)} connections held silent for {stall_seconds:g} s")
    flowing.clear()
    await asyncio.sleep(stall_seconds)
    flowing.set()
    log("stall over")


async def main():
    flowing.set()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, cut)
    loop.add_signal_handler(signal.SIGUSR2, lambda: asyncio.ensure_future(stall()))
    server = await asyncio.start_server(serve, "127.0.0.1", listen_port, reuse_address=True)
    log(f"forwarding to {host}:{port}")
    async with server:
        await server.serve_forever()


asyncio.run(main())
