# An SMTP server for the mail-alert tests (Debian's python3-aiosmtpd):
# smtpsink.py ADDR PORT FILE appends one JSON line per message received to
# FILE: the HELO name, the envelope and the message text as sent.
import json
import sys
import time

from aiosmtpd.controller import Controller


class Sink:
    async def handle_DATA(self, server, session, envelope):
        rec = {
            "helo": session.host_name,
            "from": envelope.mail_from,
            "to": envelope.rcpt_tos,
            "data": envelope.original_content.decode("utf-8", "replace"),
        }
        with open(sys.argv[3], "a") as f:
            f.write(json.dumps(rec) + "\n")
        return "250 OK"


c = Controller(Sink(), hostname=sys.argv[1], port=int(sys.argv[2]))
c.start()
print("smtpsink ready", flush=True)
while True:
    time.sleep(3600)
