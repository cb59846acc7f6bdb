# bash completion for agentctl(1). Installed as "agentctl" in
# bash-completion's completionsdir, which loads it on first use.
_agentctl()
{
	local cur prev cmd i
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	cmd=""
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-S | --socket | -t | --timeout) ((i++)) ;;
		-*) ;;
		*) cmd=${COMP_WORDS[i]}; break ;;
		esac
	done
	case $prev in
	-S | --socket | --key | --ssh-key)
		COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
	--for)
		COMPREPLY=($(compgen -u -- "$cur"))
		return
		;;
	-t | --timeout | --ttl | --purpose | --actor | --task | --reason)
		return
		;;
	esac
	case $cmd in
	"")
		COMPREPLY=($(compgen -W "create run list show revoke status pending approve deny
			authorized-keys audit -S --socket -t --timeout -h --help --version" -- "$cur"))
		;;
	create) COMPREPLY=($(compgen -W "--purpose --ttl --actor --task --for --risk --ssh-key --json --help" -- "$cur")) ;;
	run) COMPREPLY=($(compgen -W "--purpose --ttl --actor --task --for --risk --json --help --" -- "$cur")) ;;
	list) COMPREPLY=($(compgen -W "--all --json --help" -- "$cur")) ;;
	show | revoke)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "--json --help $([ "$cmd" = revoke ] && echo --reason)" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$(agentctl list --json 2>/dev/null |
				sed -n 's/.*"name": *"\([^"]*\)".*/\1/p')" -- "$cur"))
		fi
		;;
	status | pending) COMPREPLY=($(compgen -W "--json --help" -- "$cur")) ;;
	approve | deny) COMPREPLY=($(compgen -W "--reason --json --help" -- "$cur")) ;;
	authorized-keys)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "--json --help" -- "$cur"))
		else
			COMPREPLY=($(compgen -u -- "$cur"))
		fi
		;;
	audit)
		if [ "$i" = $((COMP_CWORD - 1)) ]; then
			COMPREPLY=($(compgen -W "verify trace" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "--key --key-dir --host --json --help" -- "$cur"))
			[[ $cur == -* ]] || COMPREPLY+=($(compgen -f -- "$cur"))
		fi
		;;
	esac
}
complete -F _agentctl agentctl
