# A clone of a template takes its own staff passwords (lab.templates.identity runs this
# in the guest as root, through the guest agent): lines "name password" on stdin.
# An account this role gave a Samba password has a stamp of it; the stamp is emptied,
# so the next provisioning sets the password anew. An account without a stamp is asked
# of Samba itself (a program costs an emulated guest a third of a second after a restore).
stamps=/var/lib/samba/private/hromada-lab
while read -r name password; do
  [ -n "$name" ] || continue
  [ -e "$stamps/$name" ] || pdbedit -u "$name" >/dev/null 2>&1 || continue
  printf '%s\n%s\n' "$password" "$password" | smbpasswd -s "$name" >/dev/null
  [ ! -e "$stamps/$name" ] || : >"$stamps/$name"
done
