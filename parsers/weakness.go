package parsers

// Weakness is a common class of vulnerability a report names: its
// category is then vulnerability, and Report.Weakness says which.
type Weakness string

// The weakness classes triage recognises, in the order it looks for them
// (the more specific first: "SQL injection" before a bare "injection").
const (
	WeaknessXSS            Weakness = "xss"
	WeaknessSQLInjection   Weakness = "sql-injection"
	WeaknessOpenRedirect   Weakness = "open-redirect"
	WeaknessSSRF           Weakness = "ssrf"
	WeaknessRCE            Weakness = "rce"
	WeaknessCSRF           Weakness = "csrf"
	WeaknessIDOR           Weakness = "idor"
	WeaknessPathTraversal  Weakness = "path-traversal"
	WeaknessXXE            Weakness = "xxe"
	WeaknessDeserialise    Weakness = "deserialisation"
	WeaknessAuthBypass     Weakness = "authentication-bypass"
	WeaknessInfoDisclosure Weakness = "information-disclosure"
)

// weaknessTerms word each class in the seven triage languages (English,
// German, French, Spanish, Japanese, Chinese, Korean), as the lexicon
// does: lower case; "*" ends a stem; terms in scripts written without
// spaces match anywhere. Every term is also a vulnerability term.
var weaknessTerms = []struct {
	class Weakness
	terms []string
}{
	{WeaknessXSS, []string{
		"xss", "cross-site scripting", "cross site scripting", // en
		"cross-site-scripting", "seitenübergreifendes scripting", // de
		"script intersite*", "injection de script*", // fr
		"secuencias de comandos en sitios cruzados", "secuencia de comandos entre sitios", // es
		"クロスサイトスクリプティング", // ja
		"跨站脚本", "跨站腳本", // zh
		"크로스 사이트 스크립팅", "크로스사이트 스크립팅", // ko
	}},
	{WeaknessSQLInjection, []string{
		"sql injection", "sqli",
		"sql-injektion*", "sql-injection*",
		"injection sql", "injection de sql",
		"inyección sql", "inyección de sql",
		"sqlインジェクション",
		"sql注入",
		"sql 인젝션", "sql 삽입",
	}},
	{WeaknessOpenRedirect, []string{
		"open redirect*", "unvalidated redirect*",
		"offene weiterleitung*", "open-redirect*", "ungeprüfte weiterleitung*",
		"redirection ouverte", "redirections ouvertes", "redirection non validée",
		"redirección abierta", "redirecciones abiertas", "redirección no validada",
		"オープンリダイレクト",
		"开放重定向", "開放重定向", "url跳转", "任意跳转",
		"오픈 리다이렉트", "오픈 리디렉트", "오픈 리디렉션",
	}},
	{WeaknessSSRF, []string{
		"ssrf", "server-side request forgery", "server side request forgery",
		"serverseitige anfragefälschung", "serverseitiger request-fälschung",
		"falsification de requête côté serveur", "falsification de requêtes côté serveur",
		"falsificación de solicitudes del lado del servidor", "falsificación de peticiones del lado del servidor",
		"サーバーサイドリクエストフォージェリ",
		"服务端请求伪造", "服务器端请求伪造", "伺服器端請求偽造",
		"서버 측 요청 위조", "서버사이드 요청 위조",
	}},
	{WeaknessRCE, []string{
		"remote code execution", "rce", "arbitrary code execution", "command injection",
		"codeausführung*", "ausführung von beliebigem code", "befehlsinjektion*",
		"exécution de code à distance", "exécution de code arbitraire", "injection de commande*",
		"ejecución remota de código", "ejecución de código arbitrario", "inyección de comandos",
		"リモートコード実行", "任意のコード実行", "任意コード実行", "コマンドインジェクション",
		"远程代码执行", "遠端程式碼執行", "远程命令执行", "命令注入",
		"원격 코드 실행", "임의 코드 실행", "명령어 삽입",
	}},
	{WeaknessCSRF, []string{
		"csrf", "xsrf", "cross-site request forgery", "cross site request forgery",
		"cross-site-request-forgery", "seitenübergreifende anfragefälschung",
		"falsification de requête intersite*", "falsification de requêtes intersites",
		"falsificación de petición en sitios cruzados", "falsificación de solicitudes entre sitios",
		"クロスサイトリクエストフォージェリ",
		"跨站请求伪造", "跨站請求偽造",
		"크로스 사이트 요청 위조", "사이트 간 요청 위조",
	}},
	{WeaknessIDOR, []string{
		"idor", "insecure direct object reference*", "broken object level authorization",
		"unsichere direkte objektreferenz*",
		"référence directe à un objet non sécurisée", "références directes non sécurisées",
		"referencia directa insegura a objetos", "referencias directas inseguras",
		"安全でない直接オブジェクト参照",
		"不安全的直接对象引用", "不安全的直接物件參考", "越权访问", "越權存取",
		"안전하지 않은 직접 객체 참조",
	}},
	{WeaknessPathTraversal, []string{
		"path traversal", "directory traversal", "local file inclusion",
		"verzeichnisdurchquerung", "pfadmanipulation", "path-traversal",
		"traversée de répertoire*", "parcours de répertoire*", "traversée de chemin",
		"recorrido de directorios", "salto de directorio*", "recorrido de ruta*",
		"パストラバーサル", "ディレクトリトラバーサル",
		"路径遍历", "目录遍历", "路徑遍歷", "目錄遍歷",
		"경로 탐색", "디렉터리 트래버설", "디렉토리 트래버설", "경로 조작",
	}},
	{WeaknessXXE, []string{
		"xxe", "xml external entit*",
		"externe xml-entität*", "xml-external-entity",
		"entité externe xml", "entités externes xml",
		"entidad externa xml", "entidades externas xml",
		"xml外部実体", "xml外部エンティティ",
		"xml外部实体", "xml外部實體",
		"xml 외부 엔티티", "xml 외부 개체",
	}},
	{WeaknessDeserialise, []string{
		"deserializ*", "deserialis*",
		"deserialisierung*",
		"désérialisation*",
		"deserialización*",
		"デシリアライズ", "デシリアライゼーション", "逆シリアル化",
		"反序列化",
		"역직렬화",
	}},
	{WeaknessAuthBypass, []string{
		"authentication bypass", "auth bypass", "bypass authentication", "bypasses authentication", "login bypass",
		"authentifizierung umgangen", "umgehung der authentifizierung", "authentifizierungsumgehung",
		"contournement de l'authentification", "contournement d'authentification", "contournement de l’authentification",
		"omisión de autenticación", "evasión de autenticación", "bypass de autenticación",
		"認証回避", "認証バイパス",
		"认证绕过", "身份验证绕过", "認證繞過", "驗證繞過",
		"인증 우회",
	}},
	{WeaknessInfoDisclosure, []string{
		"information disclosure", "information leak*", "sensitive data exposure", "discloses sensitive",
		"informationspreisgabe", "offenlegung von informationen", "informationsleck*", "preisgabe sensibler",
		"divulgation d'informations", "divulgation d’informations",
		"divulgación de información", "revelación de información", "fuga de información",
		"情報露出", "情報の露出",
		"信息泄漏", "資訊洩漏", "資訊洩露",
		"정보 노출",
	}},
}

// weaknessClass is the first class whose wording the triage text names.
func (t *triage) weaknessClass() Weakness {
	for _, w := range weaknessTerms {
		if mentions(Concept("weakness:"+string(w.class)), t.text) != "" {
			return w.class
		}
	}
	return ""
}

func init() {
	for _, w := range weaknessTerms {
		c := Concept("weakness:" + string(w.class))
		for _, text := range w.terms {
			terms[c] = append(terms[c], newTerm(text))
			terms[ConceptVulnerability] = append(terms[ConceptVulnerability], newTerm(text))
		}
	}
}
