# A clone of a template takes its own staff passwords (lab.templates.identity runs this
# in the guest as root, through the guest agent): lines "name password" on stdin.
umask 077
pw=$(mktemp)
while read -r name password; do
  [ -n "$name" ] || continue
  dn=$(ldapsearch -Q -LLL -Y EXTERNAL -H ldapi:/// "(uid=$name)" dn | sed -n 's/^dn: //p')
  [ -n "$dn" ] || continue
  printf '%s' "$password" >"$pw"
  ldappasswd -Q -Y EXTERNAL -H ldapi:/// -T "$pw" "$dn" >/dev/null
done
rm -f "$pw"
