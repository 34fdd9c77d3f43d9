"""A lab's software: its roles applied by Ansible, software under test, testinfra verification."""
