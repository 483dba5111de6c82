#!/usr/bin/env python3
"""Independent Redis parity check (no migrator code): every key of the given databases, DUMP bytes compared on both
sides, values compared by type where the bytes differ, and the remaining time to live (PTTL, within 2 s: the two sides
are read a moment apart); keys starting with __migrator__: are bookkeeping and left out.

    bench/redis-parity.py PASSWORD [SOURCE_PORT 16379] [TARGET_PORT 16380] [DBS 0,1]

Exit 0 when every key is equal and the key sets match, 1 otherwise."""
import socket, sys
def conn(port, pw, db):
    s = socket.create_connection(("127.0.0.1", port)); f = s.makefile("rb")
    c = (s, f); cmd(c, [b"AUTH", pw]); cmd(c, [b"SELECT", str(db).encode()]); return c
def enc(args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out
def read(f):
    line = f.readline(); t, rest = line[:1], line[1:-2]
    if t in (b"+",): return rest
    if t == b"-": return Exception(rest.decode())
    if t == b":": return int(rest)
    if t == b"$":
        n = int(rest)
        if n < 0: return None
        d = f.read(n + 2); return d[:-2]
    if t == b"*":
        n = int(rest)
        return None if n < 0 else [read(f) for _ in range(n)]
    raise Exception("bad reply %r" % line)
def cmd(c, args): c[0].sendall(enc(args)); return read(c[1])
def pipe(c, cmds):
    c[0].sendall(b"".join(enc(a) for a in cmds)); return [read(c[1]) for _ in cmds]
def value(c, k, t):
    if t == b"string": return cmd(c, [b"GET", k])
    if t == b"list": return cmd(c, [b"LRANGE", k, 0, -1])
    if t == b"hash": r = cmd(c, [b"HGETALL", k]); return sorted(zip(r[::2], r[1::2]))
    if t == b"set": return sorted(cmd(c, [b"SMEMBERS", k]))
    if t == b"zset": return cmd(c, [b"ZRANGE", k, 0, -1, b"WITHSCORES"])
    return t
pw = sys.argv[1].encode(); total = bad = bydump = 0; samekeys = True
sport = int(sys.argv[2]) if len(sys.argv) > 2 else 16379
tport = int(sys.argv[3]) if len(sys.argv) > 3 else 16380
dbs = [int(d) for d in sys.argv[4].split(",")] if len(sys.argv) > 4 else [0, 1]
for db in dbs:
    s = conn(sport, pw, db); t = conn(tport, pw, db)
    cur = b"0"; keys = []
    while True:
        cur, ks = cmd(s, [b"SCAN", cur, b"COUNT", 1000]); keys += ks
        if cur == b"0": break
    tkeys = []; cur = b"0"
    while True:
        cur, ks = cmd(t, [b"SCAN", cur, b"COUNT", 1000]); tkeys += [k for k in ks if not k.startswith(b"__migrator__:")]
        if cur == b"0": break
    samekeys = samekeys and set(keys) == set(tkeys)
    print("db%d source keys %d target keys %d, same key set: %s" % (db, len(keys), len(tkeys), set(keys) == set(tkeys)))
    for i in range(0, len(keys), 1000):
        b = keys[i:i+1000]
        sd = pipe(s, [[b"DUMP", k] for k in b]); td = pipe(t, [[b"DUMP", k] for k in b])
        sp = pipe(s, [[b"PTTL", k] for k in b]); tp = pipe(t, [[b"PTTL", k] for k in b])
        for k, x, y, px, py in zip(b, sd, td, sp, tp):
            total += 1
            if (px < 0 or py < 0) and px != py or px >= 0 and py >= 0 and abs(px - py) > 2000:
                bad += 1; print("TTL DIFF", db, k, px, py); continue
            if x == y: bydump += 1; continue
            ty = cmd(s, [b"TYPE", k])
            if value(s, k, ty) != value(t, k, cmd(t, [b"TYPE", k])): bad += 1; print("DIFF", db, k)
print("compared %d keys: %d equal DUMP bytes, %d equal by type, %d different" % (total, bydump, total - bydump - bad, bad))
sys.exit(0 if bad == 0 and samekeys else 1)
