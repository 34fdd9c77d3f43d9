# A clone of a template takes its own staff passwords (lab.templates.identity runs this
# in the guest as root, through the guest agent): lines "name password" on stdin.
# The stamps of the passwords Samba was given go, so the next provisioning checks anew.
while read -r name password; do
  [ -n "$name" ] || continue
  pdbedit -u "$name" >/dev/null 2>&1 || continue
  printf '%s\n%s\n' "$password" "$password" | smbpasswd -s "$name" >/dev/null
  rm -f "/var/lib/samba/private/hromada-lab/$name"
done
