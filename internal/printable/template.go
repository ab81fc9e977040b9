package printable

import "text/template/parse"

// EscapeActions appends a call of the function named fn to every action of
// tree that prints a value, the way html/template rewrites its trees:
// "{{.Reporter.Name}}" runs as "{{.Reporter.Name | fn}}". A template whose
// trees pass through it before their first use (text/template or
// html/template, whose own escapers then follow fn) prints others' text
// only as fn makes it, whatever template or field prints it, without
// anyone remembering to call it. fn must be in the template's FuncMap.
func EscapeActions(tree *parse.Tree, fn string) {
	if tree != nil {
		escapeNode(tree, tree.Root, fn)
	}
}

func escapeNode(tree *parse.Tree, n parse.Node, fn string) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			escapeNode(tree, c, fn)
		}
	case *parse.ActionNode:
		if len(n.Pipe.Decl) > 0 {
			return // {{$x := ...}} prints nothing
		}
		n.Pipe.Cmds = append(n.Pipe.Cmds, &parse.CommandNode{NodeType: parse.NodeCommand, Pos: n.Pos,
			Args: []parse.Node{parse.NewIdentifier(fn).SetTree(tree).SetPos(n.Pos)}})
	case *parse.IfNode:
		escapeNode(tree, n.List, fn)
		escapeNode(tree, n.ElseList, fn)
	case *parse.RangeNode:
		escapeNode(tree, n.List, fn)
		escapeNode(tree, n.ElseList, fn)
	case *parse.WithNode:
		escapeNode(tree, n.List, fn)
		escapeNode(tree, n.ElseList, fn)
	}
}
