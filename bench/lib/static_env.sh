# Sourced by benchmarks: a work dir with one private sshd on 127.0.0.1 and
# a generated `static` plan (plan.toml) of $HOSTS hosts x $STEPS `run`
# steps, every host pointing at that sshd. Cleans up on exit (sshd by PID).
# Needs: HOSTS, STEPS. Sets: work, sshd_pid.
work=$(mktemp -d /tmp/runner-bench.XXXXXX)
sshd_pid=""
cleanup() { [[ -n $sshd_pid ]] && kill "$sshd_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
cd "$work"
ssh-keygen -q -t ed25519 -N '' -f host_key
ssh-keygen -q -t ed25519 -N '' -f client_key
cp client_key.pub authorized_keys
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >sshd_config <<CFG
Port $port
ListenAddress 127.0.0.1
HostKey $work/host_key
PidFile $work/sshd.pid
AuthorizedKeysFile $work/authorized_keys
UsePAM no
StrictModes no
PasswordAuthentication no
PermitRootLogin prohibit-password
MaxStartups 2000
MaxSessions 2000
LogLevel ERROR
CFG
mkdir -p /run/sshd 2>/dev/null || true
# As root, hide ~/.bashrc from the sshd's shells (as runner's local hosts do):
# bash sources it for every SSH command, and a slow rc dominates the apply.
if [[ $(id -u) -eq 0 && -s $HOME/.bashrc ]]; then
    unshare --mount --propagation private -- sh -c 'mount --bind /dev/null "$0" && exec /usr/sbin/sshd -f "$1" -E "$2"' \
        "$HOME/.bashrc" "$work/sshd_config" "$work/sshd.log"
else
    /usr/sbin/sshd -f "$work/sshd_config" -E "$work/sshd.log"
fi
for _ in $(seq 200); do [[ -s sshd.pid ]] && break; sleep 0.05; done
sshd_pid=$(cat sshd.pid)
key=$(cut -d' ' -f1,2 host_key.pub)
python3 - "$HOSTS" "$STEPS" "$port" "$key" "$work" >plan.toml <<'PY'
import sys
hosts, steps, port, key, work = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
print(f'name = "scale"\n[provider]\nkind = "static"\nidentity = "{work}/client_key"\nworkdir = "{work}/remote"\n')
per = 10
for g in range(hosts // per):
    print(f"[groups.g{g}]")
    print("hosts = [" + ", ".join(f'{{ address = "127.0.0.1", port = {port}, host_key = "{key}" }}' for _ in range(per)) + "]")
for s in range(steps):
    print(f'[[step]]\nname = "s{s}"\non = [' + ", ".join(f'"g{g}"' for g in range(hosts // per)) + f']\nrun = "true # {s}"\n')
PY
