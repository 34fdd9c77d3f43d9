"""Lab hosts: the servers labs run on (recorded, reached by their libvirt URI, drained),
and this machine's own facts: the accelerator (KVM or TCG), disk space under LAB_HOME,
boot slots."""
