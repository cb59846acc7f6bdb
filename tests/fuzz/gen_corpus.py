#!/usr/bin/env python3
"""Writes the seed corpora for the wire and kv fuzz targets, and the step-up
seeds of the config target (run once; the snapshot seeds come from the
writer, see tests/fuzz/README in the commit; the older config seeds were
written by hand). Existing seeds must stay byte-identical."""
import os, struct

here = os.path.dirname(os.path.abspath(__file__))

def msg(t, *attrs, version=1):
    b = struct.pack("<HH", version, t)
    for tag, val in attrs:
        b += struct.pack("<HH", tag, len(val)) + val
    return b

def s(x): return x.encode() + b"\0"
def u(x): return struct.pack("<Q", x)

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKgdmWDPqcYU7V537jr+xOc5Irooz8ry5ZEfxv+zCH7V"

wire = {
    "create": msg(1, (2, s("ci")), (3, u(3600)), (4, s("builder/2.1")), (5, s("task")), (6, s("alice"))),
    "list": msg(2), "list_all": msg(2, (8, b"")),
    "show": msg(3, (1, s("agent-abc123"))),
    "revoke": msg(4, (1, s("agent-abc123")), (7, s("done"))),
    "status": msg(5), "ok": msg(100, (21, s("fine"))),
    "error": msg(101, (20, u(1)), (21, s("denied"))),
    "identity": msg(102, (1, s("agent-abc123")), (9, u(1879048192)), (2, s("ci")), (16, s("retired")),
                    (11, s("alice")), (12, s("alice")), (12, s("orchestrator")), (17, s("revoked")),
                    (14, u(1)), (15, u(2)), (29, u(1))),
    "end": msg(103), "status_reply": msg(104, (23, s("0.1.0")), (24, u(3))),
    "bad_version": msg(5, version=9), "bad_type": msg(77),
    "no_nul": msg(3, (1, b"abc")), "inner_nul": msg(3, (1, b"a\0c\0")),
    "dup": msg(1, (2, s("ci")), (2, s("ci"))), "missing_req": msg(3),
    "short_u64": msg(1, (2, s("ci")), (3, b"\1\2")), "trailing": msg(5) + b"\0",
    "truncated_attr": msg(3)[:4] + struct.pack("<HH", 1, 40) + b"abc",
    "bad_state": msg(102, (1, s("n")), (9, u(1)), (2, s("ci")), (16, s("zombie"))),
    "too_many_chain": msg(102, (1, s("n")), (9, u(1)), (2, s("ci")), (16, s("live")),
                          *[(12, s("x"))] * 9),
    "empty": b"", "one": b"\1",
    # pam_agent's requests and their replies (types 6-11, 105, 106)
    "auth": msg(6, (1, s("agent-abc123")), (19, s("3q0Zk" + "x" * 38)), (31, s("su")),
                (32, s("/dev/pts/9")), (33, s("192.0.2.7")), (34, s("alice"))),
    "account": msg(7, (1, s("agent-abc123")), (31, s("sshd")), (33, s("192.0.2.7"))),
    "session_open": msg(8, (1, s("agent-abc123")), (31, s("su")), (32, s("/dev/pts/9"))),
    "session_close": msg(9, (1, s("agent-abc123")), (35, u(42))),
    "authorized_keys": msg(10, (1, s("agent-abc123"))),
    "create_ssh_key": msg(1, (2, s("ci")), (36, s(KEY + " a@b"))),
    "ok_ssh_key": msg(100, (36, s(KEY)), (15, u(1795363600))),
    "run": msg(11, (2, s("ci")), (3, u(600)), (37, s("make")), (37, s("check")), (39, s("/srv"))),
    "run_argv_max": msg(11, (2, s("ci")), (3, u(600)), (4, s("a")), (5, s("t")), (6, s("alice")),
                        (39, s("/")), *[(37, s("x"))] * 64),
    "run_argv_over": msg(11, (2, s("ci")), *[(37, s("x"))] * 65),
    "session": msg(105, (1, s("agent-abc123")), (2, s("ci")), (15, u(1795363600)), (35, u(42)),
                   (11, s("alice"))),
    "exit": msg(106, (38, u(256)), (21, s("exited"))),
    "auth_no_token": msg(6, (1, s("agent-abc123")), (31, s("su"))),
    "account_token": msg(7, (1, s("agent-abc123")), (31, s("su")), (19, s("tok"))),
    "service_too_long": msg(7, (1, s("agent-abc123")), (31, s("s" * 65))),
    "rhost_too_long": msg(7, (1, s("agent-abc123")), (31, s("su")), (33, s("h" * 256))),
    "ssh_key_too_long": msg(100, (36, s("ssh-rsa " + "A" * 4089))),
    # step-up approval (types 12-15, 107-109; tags 40-45)
    "account_command": msg(7, (1, s("agent-abc123")), (31, s("sudo")), (32, s("/dev/pts/3")),
                           (40, s("/usr/bin/apt-get install vim"))),
    "pending": msg(12),
    "approve": msg(13, (41, s("k7f3qx")), (7, s("ticket 42"))),
    "deny": msg(14, (41, s("k7f3qx")), (7, s("not today"))),
    "prompt_reply": msg(15, (43, s("correct horse"))), "prompt_reply_empty": msg(15),
    "stepup": msg(107, (41, s("k7f3qx")), (15, u(1795363600)),
                  (21, s("Approval required: request k7f3qx for sudo /usr/bin/id."))),
    "prompt": msg(108, (42, u(1)), (43, s("Password: "))), "prompt_info": msg(108, (42, u(4))),
    "request": msg(109, (41, s("k7f3qx")), (1, s("agent-abc123")), (9, u(1879048192)),
                   (2, s("ci")), (11, s("alice")), *[(12, s("hop"))] * 8, (31, s("sudo")),
                   (40, s("/usr/bin/id -u")), (32, s("/dev/pts/3")), (33, s("192.0.2.7")),
                   (34, s("alice")), (44, u(4242)), (14, u(1795363000)), (15, u(1795363300)),
                   (45, s('purpose ci: sudo_commands approve "/usr/bin/id"'))),
    "request_min": msg(109, (41, s("abcdef")), (1, s("n")), (9, u(1)), (2, s("ci")),
                       (31, s("sudo")), (14, u(1)), (15, u(2))),
    "request_long_rule": msg(109, (41, s("abcdef")), (1, s("n")), (9, u(1)), (2, s("p" * 32)),
                             (31, s("sudo")), (14, u(1)), (15, u(2)),
                             (45, s("purpose " + "p" * 32 + ': sudo_commands approve "/x '
                                    + "a" * 253 + '"'))),
    "request_chain_over": msg(109, (41, s("abcdef")), (1, s("n")), (9, u(1)), (2, s("ci")),
                              (31, s("sudo")), (14, u(1)), (15, u(2)), *[(12, s("x"))] * 9),
    "request_no_service": msg(109, (41, s("abcdef")), (1, s("n")), (9, u(1)), (2, s("ci")),
                              (14, u(1)), (15, u(2))),
    "approve_no_id": msg(13, (7, s("why"))),
    "approve_id_too_long": msg(13, (41, s("abcdefg"))),
    "approve_text": msg(13, (41, s("abcdef")), (43, s("password"))),
    "deny_dup_id": msg(14, (41, s("abcdef")), (41, s("ghjkmn"))),
    "pending_attr": msg(12, (41, s("abcdef"))),
    "prompt_no_style": msg(108, (43, s("Password: "))),
    "prompt_style_str": msg(108, (42, s("1"))),
    "prompt_text_too_long": msg(108, (42, u(1)), (43, s("t" * 513))),
    "prompt_reply_text_max": msg(15, (43, s("t" * 512))),
    "stepup_no_expires": msg(107, (41, s("abcdef")), (21, s("m"))),
    "auth_command": msg(6, (1, s("agent-abc123")), (19, s("tok")), (31, s("sudo")),
                        (40, s("/usr/bin/id"))),
    "account_command_too_long": msg(7, (1, s("n")), (31, s("sudo")), (40, s("/" + "c" * 1024))),
    "account_request_id": msg(7, (1, s("n")), (31, s("sudo")), (41, s("abcdef"))),
    "account_runas": msg(7, (1, s("agent-abc123")), (31, s("sudo")), (40, s("/usr/bin/id")),
                         (46, s("bob"))),
    "auth_command_runas": msg(6, (1, s("agent-abc123")), (19, s("tok")), (31, s("sudo")),
                              (40, s("/usr/bin/id -u")), (46, s("root")), (41, s("k7f3qx"))),
    "session_open_grant": msg(8, (1, s("agent-abc123")), (31, s("sudo")), (46, s("root")),
                              (41, s("k7f3qx"))),
    "runas_too_long": msg(7, (1, s("agent-abc123")), (31, s("sudo")), (46, s("b" * 40))),
    "request_runas": msg(109, (41, s("k7f3qx")), (1, s("agent-abc123")), (9, u(1879048192)),
                         (2, s("ci")), (31, s("sudo")), (46, s("bob")), (14, u(1)), (15, u(2))),
}
kv = {
    "create": 'v=1 seq=3 event="create" decision="allow" identity="agent-k7f3q2" uid=1879048192 '
              'subject="alice" chain="alice>orchestrator" ttl="30m" caller_uid=2902',
    "escapes": 'v=1 task="say \\"hi\\"\\\\ \\x0a\\xc3\\xa9"',
    "negative": 'delta=-5', "empty_value": 'x=""',
    "bad_escape": 'x="\\q"', "nul_escape": 'x="\\x00"', "open": 'x="abc', "space_end": 'x=1 ',
    "double_space": 'x=1  y=2', "upper": 'X=1', "noeq": 'x', "raw_ctrl": 'x="\x01"',
}
# agentd.conf seeds for step-up approval (the older config seeds were written by hand)
config = {
    "stepup": 'approvers = [ "alice", "%wheel" ];\napproval_timeout = "10m";\n'
              'notify_command = "/usr/local/bin/notify";\nsubject_may_approve = false;\n'
              'max_pending = 32;\n'
              'purposes = ( { name = "ops"; services = { sudo = "allow"; sudo-i = "approve"; };\n'
              '  sudo_commands = { allow = [ "/usr/bin/id", "/usr/bin/true \\"\\"" ];\n'
              '    approve = [ "/usr/bin/apt-get install *" ];\n'
              '    deny = [ "/bin/rm -rf /*", "/usr/bin/[a-z]* x?" ]; }; } );\n',
    "sudo_commands_empty": 'purposes = ( { name = "ops"; sudo_commands = { }; } );\n',
    "approvers_star": 'approvers = [ "*" ];\n',
    "approvers_bad": 'approvers = [ "alice", "Bad User", "%" ];\n',
    "approval_timeout_long": 'approval_timeout = "2h";\n',
    "notify_relative": 'notify_command = "notify.sh";\n',
    "max_pending_zero": 'max_pending = 0;\n',
    "sudo_commands_list": 'purposes = ( { name = "ops"; sudo_commands = [ "/usr/bin/id" ]; } );\n',
    "sudo_commands_unknown": 'purposes = ( { name = "ops"; sudo_commands = { prompt = [ "/x" ]; }; } );\n',
    "sudo_rule_relative": 'purposes = ( { name = "ops"; sudo_commands = { allow = [ "id -u" ]; }; } );\n',
    "sudo_rule_dotdot": 'purposes = ( { name = "ops"; sudo_commands = { deny = [ "/usr/../bin/sh" ]; }; } );\n',
    "sudo_rule_space_end": 'purposes = ( { name = "ops"; sudo_commands = { allow = [ "/usr/bin/id " ]; }; } );\n',
    "sudo_rule_ctrl": 'purposes = ( { name = "ops"; sudo_commands = { allow = [ "/usr/bin/id \\x01" ]; }; } );\n',
}
for name, data in wire.items():
    open(os.path.join(here, "corpus/wire", name), "wb").write(data)
for name, data in kv.items():
    open(os.path.join(here, "corpus/kv", name), "w").write(data)
for name, data in config.items():
    open(os.path.join(here, "corpus/config", name), "w").write(data)

# audit_record: logs for the record readers, chained under the fuzz target's
# fixed key (32 bytes of 0x2a), as agentd writes them (agentd-audit(5)).
import hashlib

AUDIT_KEY = b"\x2a" * 32


def chain(bodies, seq=1, prev="0" * 32):
    out = []
    for body in bodies:
        text = 'v=2 seq=%d time="2026-11-22T15:30:%02d.000Z" %s prev="%s"' % (seq, seq % 60, body, prev)
        prev = hashlib.blake2b(text.encode(), digest_size=16, key=AUDIT_KEY).hexdigest()
        out.append('%s mac="%s"' % (text, prev))
        seq += 1
    return out


story = chain([
    'event="start" version="0.1.0" pid=41 audit="new"',
    'event="config" path="/etc/agentd/agentd.conf" decision="loaded"',
    'req="1.1" event="create" decision="allow" identity="agent-k7f3q2" uid=1879048192 '
    'subject="alice" chain="alice>orchestrator" actor="builder/2.1" purpose="ci" '
    'expires="2026-11-22T16:00:00Z" task="nightly \\"tests\\"\\x0a" ttl="30m" '
    'caller="orchestrator" caller_uid=2902 reason="delegator rule at line 12"',
    'req="1.2" event="auth" decision="allow" identity="agent-k7f3q2" uid=1879048192 '
    'service="su" ruser="alice" pid=77 reason="token verified"',
    'event="retire" identity="agent-k7f3q2" uid=1879048192 reason="revoked" by="root" sessions=1',
    'event="reap" identity="agent-k7f3q2" uid=1879048192 killed=2',
    'event="stop" version="0.1.0" reason="signal" live=0',
])
audit = {
    "bare": "\n".join(story) + "\n",
    "rsyslog_rfc3339": "".join("2026-11-22T15:30:%02d.123456+00:00 host agentd[41]: %s\n" % (i, l)
                               for i, l in enumerate(story)),
    "rsyslog_traditional": "Nov 22 15:29:59 host sshd[9]: Accepted publickey\n" +
        "".join("Nov 22 15:30:%02d host agentd[41]: %s\n" % (i, l) for i, l in enumerate(story)) +
        "Nov 22 15:31:00 host agentd[41]: store: cannot purge old retired identities\n",
    "deleted": "\n".join(story[:2] + story[3:]),
    "swapped": "\n".join(story[:2] + [story[3], story[2]] + story[4:]),
    "edited": "\n".join(story[:3] + [story[3].replace('service="su"', 'service="sshd"')] + story[4:]),
    "forged": "\n".join(story[:4] + [story[3].replace("seq=4", "seq=5")] + story[4:]),
    "crash": "\n".join(story[:3] + chain(['event="start" version="0.1.0" pid=42 audit="crash" '
                                          'lost_from=3 lost_to=66'], seq=67,
                                         prev=story[1][-33:-1])),
    "v1": 'v=1 seq=3 event="create" decision="allow" identity="agent-k7f3q2"\n',
    "tail_only": 'v=2 seq=9 prev="%s" mac="%s"\n' % ("0" * 32, "f" * 32),
    "bad_mac_hex": 'v=2 seq=9 x=1 prev="%s" mac="%s"\n' % ("0" * 32, "g" * 32),
    "huge_seq": 'v=2 seq=99999999999999999999999 prev="%s" mac="%s"\n' % ("0" * 32, "0" * 32),
    # a collector's file: two hosts' chains interleaved, one host name too
    # long to keep, one that is not a file name
    "fleet": "".join("2026-11-22T15:30:%02d.1+00:00 web1 agentd[41]: %s\n"
                     "2026-11-22T15:30:%02d.2+00:00 ../db agentd[7]: %s\n" % (i, l, i, l)
                     for i, l in enumerate(story)) +
        "Nov 22 15:31:00 %s agentd[1]: %s\n" % ("h" * 300, story[0]),
}
os.makedirs(os.path.join(here, "corpus/audit_record"), exist_ok=True)
for name, data in audit.items():
    open(os.path.join(here, "corpus/audit_record", name), "w").write(data)
