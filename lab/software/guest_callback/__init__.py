"""Files that run inside a lab's machine, never on the host (see lab.software.guest_playbook).

`lab_json.py` is an Ansible stdout callback plugin: it is copied into the guest beside a
tester's playbook and loaded by the guest's own ansible-core (2.14 in Debian 12, which
ships no JSON callback of its own). Nothing on the host imports it.
"""
