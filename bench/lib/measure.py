"""measure.py CMD...: runs CMD and prints one line of what it cost:
wall s, user s, sys s, bytes passed to write(2) (wchar), bytes written to
storage (write_bytes), peak RSS KiB. The counters are read from /proc while
the finished process is still a zombie (waitid WNOWAIT), so they are final."""
import os, subprocess, sys, time

t0 = time.monotonic()
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOWAIT)
wall = time.monotonic() - t0
io = {}
with open(f"/proc/{p.pid}/io") as f:
    for line in f:
        k, v = line.split(":")
        io[k] = int(v)
_, status, ru = os.wait4(p.pid, 0)
print(f"wall={wall:.3f} user={ru.ru_utime:.2f} sys={ru.ru_stime:.2f} "
      f"wchar={io['wchar']} write_bytes={io['write_bytes']} maxrss_kib={ru.ru_maxrss} "
      f"exit={os.waitstatus_to_exitcode(status)}")
