package compare

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
)

// Check is a condition on a comparison for a pipeline, such as
// "success_rate < 99" or "delta.fell_back_rate > 5 || failed > 0": when it
// is true, the check fails.
//
// Its variables are the whole run's Metrics by their JSON names: bare, for
// run B (the run under test), and as a.NAME, b.NAME and delta.NAME.
type Check struct {
	source  string
	program *vm.Program
	uses    []string // the variables the expression reads, in order
}

// checkEnv is what an expression sees.
type checkEnv struct {
	Metrics         // run B's, bare: the run a pipeline has just made
	A       Metrics `expr:"a"`
	B       Metrics `expr:"b"`
	Delta   Metrics `expr:"delta"`
}

// namespaces are the prefixes of a run's variables.
var namespaces = []string{"a", "b", "delta"}

// NewCheck compiles expression. It must give true or false and use only
// the known variables; the error says what is wrong and lists them.
func NewCheck(expression string) (*Check, error) {
	if strings.TrimSpace(expression) == "" {
		return nil, errors.New("the expression is empty\n" + VariablesHelp())
	}
	program, err := expr.Compile(expression, expr.Env(checkEnv{}), expr.AsBool())
	if err != nil {
		return nil, fmt.Errorf("%v\n%s", err, VariablesHelp())
	}
	// The variables are read off the expression as written: the compiled
	// program's tree may have been rewritten by the optimizer.
	tree, err := parser.Parse(expression)
	if err != nil {
		return nil, fmt.Errorf("%v\n%s", err, VariablesHelp())
	}
	return &Check{source: expression, program: program, uses: variablesIn(tree.Node)}, nil
}

// String is the expression as given.
func (c *Check) String() string { return c.source }

// Verdict is a check's result on one comparison.
type Verdict struct {
	// Failed is the expression's value: true fails the check.
	Failed bool
	// Values are the variables the expression reads, with their values in
	// this comparison, so that a failure says why.
	Values []Value
}

// Value is one variable's value.
type Value struct {
	Name  string
	Value float64
}

// ValuesText writes the values as "name = value, …".
func (v Verdict) ValuesText() string {
	parts := make([]string, len(v.Values))
	for i, x := range v.Values {
		parts[i] = x.Name + " = " + strconv.FormatFloat(x.Value, 'f', -1, 64)
	}
	return strings.Join(parts, ", ")
}

// Eval runs the check on c.
func (ch *Check) Eval(c *Comparison) (Verdict, error) {
	env := checkEnv{Metrics: c.Overall.B, A: c.Overall.A, B: c.Overall.B, Delta: c.Overall.Delta}
	out, err := expr.Run(ch.program, env)
	if err != nil {
		return Verdict{}, fmt.Errorf("--fail-if %s: %w", ch.source, err)
	}
	failed, ok := out.(bool)
	if !ok {
		return Verdict{}, fmt.Errorf("--fail-if %s gave %v, not true or false", ch.source, out)
	}
	values := variables(env)
	v := Verdict{Failed: failed}
	for _, name := range ch.uses {
		if x, ok := values[name]; ok {
			v.Values = append(v.Values, Value{Name: name, Value: x})
		}
	}
	return v, nil
}

// Variables are the names a check can use, B's bare ones first.
func Variables() []string {
	names := Names()
	out := append([]string(nil), names...)
	for _, ns := range namespaces {
		for _, n := range names {
			out = append(out, ns+"."+n)
		}
	}
	return out
}

// VariablesHelp lists the variables for an error message, wrapped for a
// terminal.
func VariablesHelp() string {
	var b strings.Builder
	b.WriteString("Variables: run B's whole-run figures, and a.NAME, b.NAME and delta.NAME for A, B and B − A:")
	line := 0
	for i, name := range Names() {
		if i == 0 || line+len(name)+2 > 90 {
			b.WriteString("\n ")
			line = 1
		}
		b.WriteString(" " + name)
		line += len(name) + 1
	}
	return b.String()
}

// Names are the figures' names, in the order of Metrics: the JSON field
// names and a check's bare variables.
func Names() []string {
	t := reflect.TypeFor[Metrics]()
	names := make([]string, 0, t.NumField())
	for f := range t.Fields() {
		names = append(names, f.Tag.Get("expr"))
	}
	return names
}

// variables are every variable's value in env.
func variables(env checkEnv) map[string]float64 {
	out := map[string]float64{}
	add := func(prefix string, m Metrics) {
		v := reflect.ValueOf(m)
		for i := range v.NumField() {
			name := prefix + v.Type().Field(i).Tag.Get("expr")
			switch f := v.Field(i); f.Kind() {
			case reflect.Int:
				out[name] = float64(f.Int())
			case reflect.Float64:
				out[name] = f.Float()
			}
		}
	}
	add("", env.Metrics)
	add("a.", env.A)
	add("b.", env.B)
	add("delta.", env.Delta)
	return out
}

// variablesIn lists the variables node reads, once each, in the order they
// appear: a bare name, or a namespace and a name, such as delta.p95_ms.
func variablesIn(node ast.Node) []string {
	c := &collector{}
	ast.Walk(&node, c)
	var out []string
	seen := map[string]bool{}
	for _, u := range c.uses {
		if !seen[u.name] {
			seen[u.name] = true
			out = append(out, u.name)
		}
	}
	return out
}

type use struct {
	ident *ast.IdentifierNode
	name  string
}

// collector gathers identifiers. The walk visits a member access after
// its parts, so a namespace's identifier is seen first and then renamed
// to the member it reads.
type collector struct{ uses []use }

func (c *collector) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		c.uses = append(c.uses, use{ident: n, name: n.Value})
	case *ast.MemberNode:
		base, ok := n.Node.(*ast.IdentifierNode)
		prop, isName := n.Property.(*ast.StringNode)
		if !ok || !isName {
			return
		}
		for i := range c.uses {
			if c.uses[i].ident == base {
				c.uses[i].name = base.Value + "." + prop.Value
			}
		}
	}
}
