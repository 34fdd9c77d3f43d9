"""The host labs run on: its facts, the accelerator (KVM or TCG), disk space under LAB_HOME."""
