#!/usr/bin/env bash
# scripts/slurm/cluster.sh — a throw-away, one-machine Slurm cluster for tests.
#
# Usage:
#   scripts/slurm/cluster.sh start STATE_DIR   # start munged + slurmctld + slurmd, wait for node idle
#   scripts/slurm/cluster.sh stop  STATE_DIR   # cancel jobs, stop the daemons, leave STATE_DIR removable
#   scripts/slurm/cluster.sh env   STATE_DIR   # print `export ...` lines for client commands:
#                                              #   eval "$(scripts/slurm/cluster.sh env STATE_DIR)"
#   scripts/slurm/cluster.sh status STATE_DIR  # exit 0 if all daemons of STATE_DIR are alive
#
# Everything lives under STATE_DIR (config, munge key + socket, spool, state, logs, pid files);
# nothing is written to /etc, /run or /var.  Several clusters (different STATE_DIRs) can run side
# by side: each gets its own munged socket and its own free TCP ports.
#
# Tunables (environment, all optional):
#   SLURMCTLD_PORT / SLURMD_PORT  fixed ports instead of picking free ones
#   SLURM_TEST_CPUS               CPUs declared for the node (default: max(nproc, 8), see below)
#   SLURM_TEST_MEM_MB             RealMemory declared for the node (default: MemTotal in MiB)
#   SLURM_TEST_START_TIMEOUT      seconds `start` waits for the node to become idle (default 60)
#   SLURM_TEST_KILLWAIT           KillWait seconds (default 5, see below)
#   SLURM_TEST_DEBUG              SlurmctldDebug/SlurmdDebug level (default info)
#   SLURM_TEST_CRED_EXPIRE        AuthInfo cred_expire seconds (default 10): also the delay
#                                 before a requeued job may start again (Slurm default 120)
#
# Requirements: slurmctld, slurmd, munged, sinfo/scontrol/squeue/scancel in PATH; run as root
# (SlurmUser is the calling user, SlurmdUser root: slurmd must be root to run jobs as the submitter).
# No cgroups needed (proctrack/linuxproc, task/none).  Harmless noise in the logs: "mpi/pmix_v4:
# can not load PMIx library" (Slurm loads every MPI plugin; MpiDefault=none is still used) and
# munged's "Unauthorized credential for client UID=0" info lines.
set -euo pipefail

SCRIPT_NAME=$(basename "$0")

die() { echo "$SCRIPT_NAME: error: $*" >&2; exit 1; }
log() { echo "$SCRIPT_NAME: $*" >&2; }

usage() {
    sed -n '3,9p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

[[ $# -eq 2 ]] || usage
CMD=$1
[[ $CMD =~ ^(start|stop|env|status)$ ]] || usage
[[ -n $2 ]] || usage
if [[ ! -d $2 ]]; then
    case $CMD in
        start) mkdir -p -- "$2" || die "cannot create STATE_DIR '$2'" ;;
        stop) log "no $2: nothing to stop"; exit 0 ;;
        status) echo "not running"; exit 1 ;;
        *) die "STATE_DIR '$2' does not exist" ;;
    esac
fi
# Absolute path: the daemons chdir and the config must not depend on the caller's cwd.
DIR=$(cd -- "$2" && pwd -P)

# ----------------------------------------------------------------------------------------------
# Layout under STATE_DIR
# ----------------------------------------------------------------------------------------------
CONF=$DIR/slurm.conf                 # the generated slurm.conf (SLURM_CONF for clients)
PLUGSTACK=$DIR/plugstack.conf        # empty SPANK config, so /etc/slurm/plugstack.conf is not read
CGROUP_CONF=$DIR/cgroup.conf         # only read if a cgroup plugin is loaded (it is not)
MUNGE_DIR=$DIR/munge                 # private munged: key, socket, pid, seed, log
MUNGE_KEY=$MUNGE_DIR/munge.key
MUNGE_SOCKET=$MUNGE_DIR/munge.socket
MUNGE_PID=$MUNGE_DIR/munged.pid
RUN_DIR=$DIR/run                     # pid files of slurmctld/slurmd
LOG_DIR=$DIR/log                     # daemon logs (tail printed when start fails)
STATE_SAVE=$DIR/state                # slurmctld StateSaveLocation
SPOOL=$DIR/spool                     # slurmd SlurmdSpoolDir
CTLD_PID=$RUN_DIR/slurmctld.pid
SLURMD_PID=$RUN_DIR/slurmd.pid
LOCK=$DIR/.cluster.lock

NODE=$(hostname -s)

# ----------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------

# running PID: true if PID exists and is not a zombie (an exited daemon not yet reaped by init).
running() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat:0:1} != Z ]]
}

# pid_alive PIDFILE NAME: true if the pid in PIDFILE is a live process whose command is NAME
# (guards against a stale pid file whose pid has been reused by something else); prints the pid.
pid_alive() {
    local file=$1 name=$2 pid comm
    [[ -s $file ]] || return 1
    pid=$(tr -dc '0-9' <"$file")
    [[ -n $pid ]] || return 1
    running "$pid" || return 1
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
    [[ $comm == "$name"* ]] || return 1
    echo "$pid"
}

# port_in_use PORT: true if anything on this host listens on / uses TCP PORT.
port_in_use() {
    local port=$1
    if command -v ss >/dev/null 2>&1; then
        ss -Htan 2>/dev/null | awk '{print $4}' | grep -Eq "[:.]${port}\$"
    else
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
    fi
}

# pick_port EXCLUDE: a random free TCP port in 20000-59999 that is not EXCLUDE.
pick_port() {
    local exclude=${1:-0} p i
    for i in $(seq 1 200); do
        p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
        [[ $p -ne $exclude ]] || continue
        port_in_use "$p" && continue
        echo "$p"
        return 0
    done
    die "could not find a free TCP port"
}

# spawn LOGFILE CMD...: start CMD detached from us (own session, stdin from /dev/null, stdout and
# stderr to LOGFILE, lock fd closed) so that `$(cluster.sh start ...)` or a test runner reading our
# output never waits for the daemons.  SLURM_CONF in their environment also lets `stop` recognise
# the slurmstepd processes this slurmd forks (see our_stepds).  Sets SPAWNED to the daemon's pid
# (setsid execs in place: a background child of a script is not a process-group leader).
SPAWNED=
spawn() {
    local out=$1; shift
    SLURM_CONF=$CONF setsid "$@" </dev/null >>"$out" 2>&1 9>&- &
    SPAWNED=$!
}

# wait_gone PID SECONDS: wait until PID has exited; false on timeout.
wait_gone() {
    local pid=$1 t=$(( $2 * 10 )) i
    for (( i = 0; i < t; i++ )); do
        running "$pid" || return 0
        sleep 0.1
    done
    ! running "$pid"
}

# stop_pids PIDFILE:NAME...: SIGTERM all the given daemons at once, wait up to 15 s for each,
# then SIGKILL what is left; remove the pid files.
stop_pids() {
    local spec file name pid pids=() names=() i n
    for spec in "$@"; do
        file=${spec%%:*}; name=${spec#*:}
        if pid=$(pid_alive "$file" "$name"); then
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid"); names+=("$name")
        fi
    done
    for i in "${!pids[@]}"; do
        if ! wait_gone "${pids[$i]}" 15; then
            log "${names[$i]} (${pids[$i]}) did not exit after SIGTERM, sending SIGKILL"
            kill -KILL "${pids[$i]}" 2>/dev/null || true
            wait_gone "${pids[$i]}" 5 || log "warning: ${names[$i]} (${pids[$i]}) still alive"
        fi
    done
    # Best effort: give init a moment to reap them, so `ps` right after `stop` is clean.
    for i in "${!pids[@]}"; do
        for (( n = 0; n < 30; n++ )); do [[ -e /proc/${pids[$i]} ]] || break; sleep 0.1; done
    done
    for spec in "$@"; do rm -f -- "${spec%%:*}"; done
}

# descendants PID: PID's child processes, recursively (from the ppid field of /proc/*/stat).
descendants() {
    local parent=$1 p
    # shellcheck disable=SC2013  # pids are single words
    for p in $(awk -v pp="$parent" '{ sub(/^.*\) /, ""); if ($2 == pp) print FILENAME }' \
                   /proc/[0-9]*/stat 2>/dev/null | cut -d/ -f3); do
        echo "$p"
        descendants "$p"
    done
}

# our_stepds: pids of slurmstepd processes started by this STATE_DIR's slurmd.  slurmstepd
# inherits slurmd's open log file (under STATE_DIR/log) and, usually, its SLURM_CONF variable
# (slurmd's setproctitle may overwrite the first environment strings, so check both).
our_stepds() {
    local f pid fd
    for f in /proc/[0-9]*/comm; do
        pid=${f#/proc/}; pid=${pid%/comm}
        [[ $(cat "$f" 2>/dev/null) == slurmstepd* ]] || continue
        if { tr '\0' '\n' <"/proc/$pid/environ"; } 2>/dev/null | grep -qxF "SLURM_CONF=$CONF"; then
            echo "$pid"; continue
        fi
        for fd in /proc/"$pid"/fd/*; do
            if [[ $(readlink "$fd" 2>/dev/null) == "$DIR"/* ]]; then echo "$pid"; break; fi
        done
    done
    return 0
}

# node_state: the node's state as sinfo reports it ("idle", "mixed", "down*", ...), or empty.
node_state() {
    SLURM_CONF=$CONF timeout 10 sinfo -h -N -n "$NODE" -o '%T' 2>/dev/null | head -n1 || true
}

# show_logs: the tail of each daemon's log (its log file, or its captured stdout/stderr when the
# log file was never written, e.g. a config error), for diagnosing a failed start.
show_logs() {
    local pair f
    for pair in "$LOG_DIR/slurmctld.log:$LOG_DIR/slurmctld.out" "$LOG_DIR/slurmd.log:$LOG_DIR/slurmd.out" \
                "$MUNGE_DIR/munged.log:$LOG_DIR/munged.out"; do
        f=${pair%%:*}
        [[ -s $f ]] || f=${pair#*:}
        [[ -s $f ]] || continue
        echo "----- tail -n 25 $f -----" >&2
        tail -n 25 "$f" >&2
    done
    echo "----- end of logs (all under $LOG_DIR and $MUNGE_DIR) -----" >&2
}

# ----------------------------------------------------------------------------------------------
# Config generation
# ----------------------------------------------------------------------------------------------
write_config() {
    local ctld_port=$1 slurmd_port=$2 ncpu cpus mem user killwait debug cluster cred_expire
    ncpu=$(nproc)
    # CPUs declared for the node.  We deliberately declare MORE CPUs than the machine has (default
    # 8 on a 2-core box): with SelectType=select/cons_tres + CR_CPU each task of a job/array
    # consumes one declared CPU, so `srun --ntasks=4` (one job needing 4 CPUs at once) and a
    # 4-element `sbatch --array` that runs all elements concurrently both need >= 4 CPUs.
    # Oversubscription via the partition's OverSubscribe=FORCE would only let *different jobs*
    # share CPUs, not one 4-task srun.  SlurmdParameters=config_overrides below stops slurmd from
    # draining the node because the hardware has fewer CPUs than declared.
    cpus=${SLURM_TEST_CPUS:-$(( ncpu > 8 ? ncpu : 8 ))}
    # Real memory of this host in MiB (jobs may use --mem up to that).
    mem=${SLURM_TEST_MEM_MB:-$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 }' /proc/meminfo)}
    user=$(id -un)
    # KillWait: seconds between the SIGTERM and the SIGKILL that Slurm sends to a job's processes
    # when it is cancelled, requeued or hits its time limit.  Short (5 s) so tests are fast;
    # a job that wants to checkpoint on SIGTERM has this long to do it.
    killwait=${SLURM_TEST_KILLWAIT:-5}
    debug=${SLURM_TEST_DEBUG:-info}
    # Credential lifetime = delay before a requeued job can start again (Slurm minimum is 5).
    cred_expire=${SLURM_TEST_CRED_EXPIRE:-10}
    # Cluster name: lower case, unique-ish per STATE_DIR (only used in the state files/logs).
    cluster=sltest$(printf '%s' "$DIR" | cksum | cut -d' ' -f1)
    cluster=${cluster:0:30}

    cat >"$CONF" <<EOF
# Generated by scripts/slurm/cluster.sh for STATE_DIR=$DIR on $(date -u +%Y-%m-%dT%H:%M:%SZ).
# One-machine test cluster: do not use in production.
ClusterName=$cluster
# Controller on this host; 127.0.0.1 so no name resolution/DNS is needed.
SlurmctldHost=$NODE(127.0.0.1)
# Ports picked free at start (or from SLURMCTLD_PORT/SLURMD_PORT).
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
# We run as root; no dedicated slurm user.
SlurmUser=$user
SlurmdUser=root
# Authentication through a private munged whose socket is under STATE_DIR
# (the default /run/munge socket is not used, so the host's munge is never touched).
AuthType=auth/munge
CredType=cred/munge
# cred_expire: lifetime of job/step credentials in seconds (default 120).  It is ALSO how long
# a requeued batch job is held (Reason=BeginTime, BeginTime = moment its old run has fully ended
# + cred_expire + 1 s; the node refuses the job id until its revoked credential expires), so it
# is short here to make scontrol requeue tests quick.  Do not force an earlier start with
# "scontrol update JobId=.. StartTime=now": the relaunch then fails ("Job credential revoked").
AuthInfo=socket=$MUNGE_SOCKET,cred_expire=$cred_expire
# All state, spool, pid and log files under STATE_DIR.
StateSaveLocation=$STATE_SAVE
SlurmdSpoolDir=$SPOOL
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
SlurmctldDebug=$debug
SlurmdDebug=$debug
# Own (empty) SPANK plugin config instead of /etc/slurm/plugstack.conf.
PlugStackConfig=$PLUGSTACK
# No cgroups (containers often lack a writable cgroup hierarchy): track job processes by
# walking the process tree, no CPU binding, no per-job accounting sampling.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
# No accounting database, no job completion log, no mail.
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MailProg=/bin/true
# Resource selection per CPU (memory not a consumable) so several 1-CPU jobs run at once.
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
# Run the main and backfill scheduling loops every second (defaults 60 s / 30 s), so a job
# whose BeginTime passes (e.g. a requeued job) starts within ~1 s instead of up to a minute.
SchedulerParameters=sched_interval=1,bf_interval=1
MpiDefault=none
# A node that was DOWN comes back by itself as soon as its slurmd registers.
ReturnToService=2
# SIGTERM -> (KillWait s) -> SIGKILL on cancel/requeue/time limit; see comment in cluster.sh.
KillWait=$killwait
# Allow batch jobs to be requeued (scontrol requeue; node failure).
JobRequeue=1
# Trust slurm.conf's node description rather than the probed hardware (CPUs are overdeclared).
SlurmdParameters=config_overrides
# Timeouts: short enough for tests, generous enough for a loaded 2-core box.
SlurmctldTimeout=30
SlurmdTimeout=60
MessageTimeout=20
InactiveLimit=0
MinJobAge=300
Waittime=0
NodeName=$NODE NodeAddr=127.0.0.1 NodeHostname=$NODE CPUs=$cpus Boards=1 SocketsPerBoard=1 CoresPerSocket=$cpus ThreadsPerCore=1 RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
    : >"$PLUGSTACK"
    # Not read with the plugins above; present so a cgroup plugin, if ever enabled, does not
    # fall back to /etc/slurm/cgroup.conf.
    cat >"$CGROUP_CONF" <<'EOF'
# Generated by scripts/slurm/cluster.sh; unused unless a cgroup plugin is configured.
CgroupPlugin=autodetect
IgnoreSystemd=yes
EOF
}

# ----------------------------------------------------------------------------------------------
# Private munged
# ----------------------------------------------------------------------------------------------
start_munged() {
    if pid_alive "$MUNGE_PID" munged >/dev/null; then
        return 0
    fi
    mkdir -p "$MUNGE_DIR"
    chmod 0711 "$MUNGE_DIR"   # others may reach the socket, not read the key
    # A fresh random key per cluster; munged insists it is owned by its user and not readable
    # by group/other.
    if [[ ! -s $MUNGE_KEY ]]; then
        ( umask 077; head -c 1024 /dev/urandom >"$MUNGE_KEY" )
    fi
    chmod 0400 "$MUNGE_KEY"
    rm -f "$MUNGE_SOCKET" "$MUNGE_SOCKET.lock"
    # munged daemonizes itself and only returns once its socket is ready; --force lets it run
    # even if the directory permission checks (e.g. a world-writable /tmp above) complain.
    if ! munged --force \
            --socket="$MUNGE_SOCKET" \
            --key-file="$MUNGE_KEY" \
            --pid-file="$MUNGE_PID" \
            --seed-file="$MUNGE_DIR/munged.seed" \
            --log-file="$MUNGE_DIR/munged.log" \
            </dev/null >>"$LOG_DIR/munged.out" 2>&1 9>&-; then
        return 1
    fi
    local i
    for (( i = 0; i < 100; i++ )); do
        [[ -S $MUNGE_SOCKET ]] && pid_alive "$MUNGE_PID" munged >/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# ----------------------------------------------------------------------------------------------
# Commands
# ----------------------------------------------------------------------------------------------
is_running() {
    pid_alive "$MUNGE_PID" munged >/dev/null &&
        pid_alive "$CTLD_PID" slurmctld >/dev/null &&
        pid_alive "$SLURMD_PID" slurmd >/dev/null
}

do_stop() {
    # 1. Cancel every job so slurmstepd kills the job processes properly (SIGTERM, KillWait,
    #    SIGKILL), then give the steps a moment to go away.
    if pid_alive "$CTLD_PID" slurmctld >/dev/null; then
        local jobs
        jobs=$(SLURM_CONF=$CONF timeout 10 squeue -h -o '%A' 2>/dev/null | tr '\n' ' ' || true)
        if [[ -n ${jobs// /} ]]; then
            # shellcheck disable=SC2086
            SLURM_CONF=$CONF timeout 10 scancel $jobs 2>/dev/null || true
            local i
            for (( i = 0; i < 10 * (${SLURM_TEST_KILLWAIT:-5} + 3); i++ )); do
                [[ -z $(our_stepds) ]] && break
                sleep 0.1
            done
        fi
    fi
    # 2. Daemons, by pid file, all at once (each takes 1-2 s to shut down; none needs munge for
    #    that once the jobs are gone).
    stop_pids "$SLURMD_PID:slurmd" "$CTLD_PID:slurmctld" "$MUNGE_PID:munged"
    # 3. Any slurmstepd of ours still around (and the job processes under it).
    local stray p
    stray=$(our_stepds)
    if [[ -n $stray ]]; then
        local victims=""
        for p in $stray; do victims+=" $p $(descendants "$p" | tr '\n' ' ')"; done
        log "killing leftover slurmstepd processes and their children:$victims"
        # shellcheck disable=SC2086
        kill -KILL $victims 2>/dev/null || true
        for p in $victims; do wait_gone "$p" 5 || true; done
    fi
    rm -f "$MUNGE_SOCKET" "$MUNGE_SOCKET.lock"
}

do_start() {
    local t0 ctld_port slurmd_port timeout state
    t0=$(date +%s.%N)
    if is_running; then
        state=$(node_state)
        log "already running for $DIR (node $NODE: ${state:-unknown}); nothing to do"
        return 0
    fi
    # Half-started or crashed earlier: clean up what is left before starting again.
    if pid_alive "$MUNGE_PID" munged >/dev/null || pid_alive "$CTLD_PID" slurmctld >/dev/null ||
       pid_alive "$SLURMD_PID" slurmd >/dev/null; then
        log "some daemons of $DIR are running but not all; restarting"
        do_stop
    fi

    for cmd in munged slurmctld slurmd sinfo scontrol squeue scancel setsid; do
        command -v "$cmd" >/dev/null 2>&1 || die "'$cmd' not found in PATH"
    done

    mkdir -p "$RUN_DIR" "$LOG_DIR" "$STATE_SAVE" "$SPOOL"
    chmod 0755 "$DIR" "$RUN_DIR" "$LOG_DIR" "$STATE_SAVE" "$SPOOL"
    # Start with fresh logs so a failure shows this run's messages.
    rm -f "$LOG_DIR"/*.log "$LOG_DIR"/*.out "$MUNGE_DIR/munged.log"

    ctld_port=${SLURMCTLD_PORT:-$(pick_port 0)}
    slurmd_port=${SLURMD_PORT:-$(pick_port "$ctld_port")}
    write_config "$ctld_port" "$slurmd_port"

    if ! start_munged; then
        log "munged failed to start"
        show_logs
        do_stop
        exit 1
    fi

    # slurmctld: -D foreground (we detach it ourselves), -c = cold start: no jobs or node state
    # recovered from a previous run in this STATE_DIR, so every `start` begins with an empty queue.
    spawn "$LOG_DIR/slurmctld.out" slurmctld -D -c -f "$CONF"
    local ctld_proc=$SPAWNED
    # slurmd: -D foreground, -N our node name.
    spawn "$LOG_DIR/slurmd.out" slurmd -D -f "$CONF" -N "$NODE"
    local slurmd_proc=$SPAWNED

    # Wait for the node to register and become idle.
    timeout=${SLURM_TEST_START_TIMEOUT:-60}
    local deadline ctld_ok slurmd_ok
    deadline=$(( $(date +%s) + timeout ))
    while :; do
        state=$(node_state)
        case $state in
            idle|idle~|mixed|allocated) break ;;
        esac
        # A daemon that died (bad config, port taken, ...) will not come back: fail fast.
        # They are still our children here, so a dead one is a zombie, which running() rejects.
        ctld_ok=1; slurmd_ok=1
        running "$ctld_proc" || ctld_ok=0
        running "$slurmd_proc" || slurmd_ok=0
        if (( ctld_ok == 0 || slurmd_ok == 0 )) || (( $(date +%s) >= deadline )); then
            if (( ctld_ok == 0 )); then log "slurmctld exited during start";
            elif (( slurmd_ok == 0 )); then log "slurmd exited during start";
            else log "node $NODE not idle after ${timeout}s (state: '${state:-no answer from slurmctld}')"; fi
            show_logs
            do_stop
            exit 1
        fi
        sleep 0.2
    done
    # Our pid files exist now (daemons write them early); double-check.
    is_running || { log "daemons not all running after start"; show_logs; do_stop; exit 1; }
    log "$(printf 'started in %.1fs: node %s %s, SlurmctldPort=%s SlurmdPort=%s, SLURM_CONF=%s' \
        "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')" "$NODE" "$state" \
        "$ctld_port" "$slurmd_port" "$CONF")"
}

do_env() {
    [[ -f $CONF ]] || die "no cluster config in $DIR (run: $SCRIPT_NAME start $DIR)"
    # Client commands (sbatch, srun, squeue, scancel, scontrol, sinfo) only need SLURM_CONF: the
    # munge socket is taken from AuthInfo in that file.  First drop every other SLURM_* variable
    # inherited from an enclosing Slurm job (SLURM_JOB_ID etc. would make srun/sbatch attach to
    # that job); our own SLURM_TEST_* tunables are kept.  The loop is POSIX sh as well as bash.
    # shellcheck disable=SC2016,SC2028  # printed literally, expanded by the caller's eval
    echo 'for v in $(env | sed -n '"'"'/^SLURM_TEST_/d; s/^\(SLURM_[A-Za-z0-9_]*\)=.*/\1/p'"'"'); do unset "$v"; done; unset v'
    printf 'export SLURM_CONF=%q\n' "$CONF"
}

case $CMD in
    start|stop)
        # Serialize start/stop on the same STATE_DIR (fd 9 is closed in everything we spawn).
        exec 9>"$LOCK"
        if command -v flock >/dev/null 2>&1; then flock -w 120 9 || die "could not lock $LOCK"; fi
        if [[ $CMD == start ]]; then do_start; else do_stop; log "stopped cluster in $DIR"; fi
        ;;
    env)
        do_env
        ;;
    status)
        if is_running; then echo "running: node $NODE $(node_state)"; else echo "not running"; exit 1; fi
        ;;
    *)
        usage
        ;;
esac
